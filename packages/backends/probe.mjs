import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
globalThis.navigator = { gpu: create([]) };
const adapter = await navigator.gpu.requestAdapter({powerPreference:'high-performance'});
const i = adapter.info;
console.log({vendor:i.vendor, arch:i.architecture, device:i.device, desc:i.description, fb:i.isFallbackAdapter, oldfb: adapter.isFallbackAdapter});
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
console.log(await tf.setBackend('webgpu'));
const a = tf.randomNormal([64,64]); const r = tf.matMul(a,a); console.log((await r.data())[0]);
const b = tf.backend(); const di = b.device.adapterInfo; console.log('device.adapterInfo', di && {v: di.vendor, d: di.description, fb: di.isFallbackAdapter});
console.log('handlers', process.listeners('uncaughtException').length, process.listeners('exit').length, process.listeners('beforeExit').length);
if (process.argv[2]==='dispose') { tf.engine().reset(); b.device.destroy(); }
console.log('end of script');
