export type { BackendName, BackendPreference } from './backend-names.js';
export { BACKEND_PREFERENCES } from './backend-names.js';
