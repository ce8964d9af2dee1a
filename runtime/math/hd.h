// WEFT_HD marks functions shared by the CPU and CUDA backends (__host__ __device__ under nvcc).
// Per-element and per-row formulas live in runtime/math/ as such functions, so the CPU tests cover the
// same code the GPU runs.
#pragma once

#ifdef __CUDACC__
#define WEFT_HD __host__ __device__ __forceinline__
#else
#define WEFT_HD inline
#endif
