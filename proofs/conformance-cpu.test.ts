import { cpuBackend } from '../backends/cpu/index.js';
import { conformanceSuite } from './conformance.js';
import { referenceBackend } from '../reference/ops-backend.js';

conformanceSuite('cpu', () => cpuBackend());
// The reference against itself checks the suite's own plumbing (and the leak accounting).
conformanceSuite('reference (self)', () => referenceBackend());
