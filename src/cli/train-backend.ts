// The kernels training runs on: with the wasm backend active, parameters are built in its arena (the SIMD linear
// and attention read them in place) and the backward matrix products go through its GEMM (autograd
// backendMatmul); with the reference backend, plain loops. Activations stay on the JS heap.

import { backendMatmul, loopMatmul, setMatmulKernels } from "../autograd/index.js";
import { activateBackend, type ActiveBackend, type BackendName } from "../backends/select.js";
import { getAllocator, setAllocator, type Allocator } from "../tensor/storage.js";

export interface TrainingBackend extends ActiveBackend {
  /** Runs fn (which builds parameters) with the backend's memory as the allocator. */
  withParamAllocator<T>(fn: () => T): T;
}

export async function activateTrainingBackend(
  name: BackendName | undefined,
  threads: number,
): Promise<TrainingBackend> {
  const active = await activateBackend(name, threads);
  const alloc: Allocator | undefined = active.allocator;
  setMatmulKernels(alloc ? backendMatmul : loopMatmul);
  return {
    ...active,
    withParamAllocator<T>(fn: () => T): T {
      if (!alloc) return fn();
      const before = getAllocator();
      setAllocator(alloc);
      try {
        return fn();
      } finally {
        setAllocator(before);
      }
    },
  };
}
