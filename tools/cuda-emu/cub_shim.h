// Stand-in for cub::DeviceRadixSort::SortPairs on host memory: a stable sort of (key, value) pairs by the
// key bits [begin_bit, end_bit), as CUB's LSD radix sort orders them. The size query asks for a made-up
// amount of temporary storage (grows with n) so callers' workspace carving is exercised, and a call
// with less room than it asked for fails as CUB does.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

namespace cub {
struct DeviceRadixSort {
  static size_t temp_need(int n) { return 1024 + size_t(n) * 16; }
  template <class K, class V>
  static cudaError_t SortPairs(void* temp, size_t& bytes, const K* keys_in, K* keys_out, const V* vals_in,
                               V* vals_out, int n, int begin_bit = 0, int end_bit = int(sizeof(K) * 8),
                               cudaStream_t = nullptr, bool = false) {
    if (!temp) {
      bytes = temp_need(n);
      return cudaSuccess;
    }
    if (bytes < temp_need(n)) return cudaErrorInvalidValue;
    std::memset(temp, 0xab, temp_need(n));  // CUB scribbles over its temporary storage
    const unsigned long long mask =
        ((end_bit >= 64 ? ~0ull : ((1ull << end_bit) - 1)) >> begin_bit) << begin_bit;
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return (static_cast<unsigned long long>(keys_in[a]) & mask) < (static_cast<unsigned long long>(keys_in[b]) & mask);
    });
    std::vector<K> k(n);
    std::vector<V> v(n);
    for (int i = 0; i < n; ++i) {
      k[i] = keys_in[order[i]];
      v[i] = vals_in[order[i]];
    }
    std::copy(k.begin(), k.end(), keys_out);
    std::copy(v.begin(), v.end(), vals_out);
    return cudaSuccess;
  }
};
}  // namespace cub
