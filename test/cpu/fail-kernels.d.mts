import type { Kernel } from '../../backends/cpu/kernels.js';
import type { ExtraKernels } from '../../backends/cpu/pool.js';

export declare const kernels: Record<string, Kernel>;
export declare const failKernels: ExtraKernels;
