/** core/scalar.ts, the source the equations are compiled from. */
export declare const SCALAR_SOURCE: string;
/** Where the build writes the generated AssemblyScript. */
export declare const DEFAULT_OUT: string;
/** The functions the WebAssembly kernels call. */
export declare const WASM_EQUATIONS: readonly string[];
/** AssemblyScript (f64x2 lanes) of `roots` of `source` and what they call; throws naming the function and line of what it cannot compile. */
export declare function compileEquations(source: string, roots?: readonly string[], fileName?: string): string;
