import { XMLParser, XMLValidator } from 'fast-xml-parser';

interface XmlNode {
  [tag: string]: XmlNode[] | string | Record<string, string> | undefined;
}

/** Throws when `svg` is not well-formed XML with an `<svg>` root. */
export function assertWellFormedSvg(svg: string): void {
  const verdict = XMLValidator.validate(svg);
  if (verdict !== true) {
    throw new Error(
      `SVG is not well-formed XML: ${verdict.err.msg} (line ${verdict.err.line}, column ${verdict.err.col})`,
    );
  }
  if (!svg.trimStart().startsWith('<svg')) throw new Error('SVG text does not start with <svg');
}

/**
 * Counts the items of every mark group whose class names `markName` (`<name>_marks`,
 * as Vega names the group of a Vega-Lite unit called `name`), by walking the parsed XML tree.
 * Items are the group's child elements (Vega writes one element per item).
 */
export function countMarkItems(svg: string, markName: string): number {
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
  });
  const tree = parser.parse(svg) as XmlNode[];
  let count = 0;
  const visit = (nodes: XmlNode[], insideGroup: boolean) => {
    for (const node of nodes) {
      const tag = Object.keys(node).find((key) => key !== ':@');
      if (tag === undefined || tag === '#text') continue;
      const attributes = (node[':@'] ?? {}) as Record<string, string>;
      const classes = (attributes['class'] ?? '').split(/\s+/);
      if (insideGroup) count += 1;
      const isGroup =
        tag === 'g' && classes.includes('role-mark') && classes.includes(`${markName}_marks`);
      const children = node[tag];
      if (Array.isArray(children)) visit(children, isGroup);
    }
  };
  visit(tree, false);
  return count;
}
