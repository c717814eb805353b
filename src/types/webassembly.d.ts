// The parts of the WebAssembly JS API the platform-neutral core uses. Declared here because
// the project compiles without the DOM library (Node's, Deno's, Bun's and browsers' runtimes
// all provide these globals).
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
}
