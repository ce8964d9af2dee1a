// CPU-vs-CUDA parity harness implementation.
#include "tests/harness/parity.h"

#include "runtime/kernels.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace weft::test {

Tolerance default_tolerance(DType dt) { return dt == DType::bf16 ? Tolerance{2e-2, 2e-2} : Tolerance{1e-5, 1e-4}; }

namespace {

struct Run {
  std::vector<std::vector<double>> outputs, grads;
};

// Runs build on `ex` with the inputs converted to dt (float inputs) and returns outputs and input
// gradients as doubles on the host.
Run run_on(Exec& ex, DType dt, const std::vector<ParityInput>& inputs, const BuildFn& build) {
  Arena arena(ex.device);
  Graph g(ex, arena);
  std::vector<OwnedTensor> owned;
  std::vector<Var> leaves;
  for (const auto& in : inputs) {
    const Tensor& h = in.value;
    bool is_float = dtype_is_float(h.dtype);
    DType target = is_float ? dt : h.dtype;
    OwnedTensor t(target, h.shape, ex.device);
    if (is_float && target != h.dtype) {  // convert on the host, then copy
      OwnedTensor conv(target, h.shape);
      cpu::cast(ex, target, conv.tensor().data, h.dtype, h.data, h.numel(), false);
      device_copy(ex.device, t.tensor().data, Device::cpu, conv.tensor().data, t.tensor().nbytes());
    } else {
      device_copy(ex.device, t.tensor().data, Device::cpu, h.data, t.tensor().nbytes());
    }
    leaves.push_back(g.input(t, in.differentiable && is_float));
    owned.push_back(std::move(t));
  }
  std::vector<Var> outs = build(g, leaves);
  std::vector<Var> float_outs;
  std::vector<Tensor> seeds;
  std::vector<OwnedTensor> seed_store;
  for (size_t o = 0; o < outs.size(); ++o) {
    const Tensor& v = outs[o]->value;
    if (!dtype_is_float(v.dtype)) continue;
    OwnedTensor r32 = random_f32(v.shape, 5000 + o);
    OwnedTensor r(v.dtype, v.shape, ex.device);
    OwnedTensor conv(v.dtype, v.shape);
    Exec host = cpu_exec(1);
    cpu::cast(host, v.dtype, conv.tensor().data, DType::f32, r32.tensor().data, v.numel(), false);
    device_copy(ex.device, r.tensor().data, Device::cpu, conv.tensor().data, r.tensor().nbytes());
    float_outs.push_back(outs[o]);
    seeds.push_back(r);
    seed_store.push_back(std::move(r));
  }
  g.backward(float_outs, seeds);
  Run run;
  for (Var o : outs) run.outputs.push_back(to_host_doubles(o->value));
  for (Var l : leaves)
    run.grads.push_back(l->requires_grad && l->grad.defined() ? to_host_doubles(l->grad) : std::vector<double>{});
  if (ex.device == Device::cuda) cuda::synchronize(ex);
  return run;
}

void compare(std::ostringstream& os, const char* what, size_t k, const std::vector<double>& ref,
             const std::vector<double>& got, Tolerance tol, int& reported) {
  if (ref.size() != got.size()) {
    os << what << " " << k << ": size " << got.size() << " vs " << ref.size() << "\n";
    ++reported;
    return;
  }
  for (size_t i = 0; i < ref.size() && reported < 8; ++i) {
    double lim = tol.atol + tol.rtol * std::fabs(ref[i]);
    if (!(std::fabs(got[i] - ref[i]) <= lim)) {
      os << what << " " << k << "[" << i << "]: gpu " << got[i] << " cpu " << ref[i] << "\n";
      ++reported;
    }
  }
}

}  // namespace

std::string parity_compare(const std::vector<ParityInput>& inputs, const BuildFn& build, DType gpu_dtype,
                           Tolerance tol, GpuKernels kernels) {
  if (cuda::device_count() == 0) {
    const char* dry = std::getenv("WEFT_PARITY_DRY_RUN");
    if (!dry || !*dry || *dry == '0') throw SkipParity{"no CUDA device (or built without CUDA): parity not run"};
    static int dry_cases = 0;
    Exec cpu_ex = cpu_exec();
    run_on(cpu_ex, DType::f32, inputs, build);
    std::fprintf(stderr, "[parity dry run] case %d (%s) ran on the CPU\n", ++dry_cases,
                 std::string(dtype_name(gpu_dtype)).c_str());
    throw SkipParity{"no CUDA device: dry run, the CPU half only", true};
  }
  Exec cpu_ex = cpu_exec();
  Run ref = run_on(cpu_ex, DType::f32, inputs, build);
  Exec gpu = cuda::exec_create(0);
  gpu.attention = kernels.attention;
  gpu.norm = kernels.norm;
  Run got;
  try {
    got = run_on(gpu, gpu_dtype, inputs, build);
  } catch (const Error& e) {
    cuda::exec_destroy(gpu);
    std::string msg = e.what();
    if (msg.find("not implemented on CUDA yet") != std::string::npos) throw SkipParity{msg};
    throw;
  }
  cuda::exec_destroy(gpu);
  std::ostringstream os;
  int reported = 0;
  for (size_t o = 0; o < ref.outputs.size(); ++o) compare(os, "output", o, ref.outputs[o], got.outputs[o], tol, reported);
  for (size_t k = 0; k < ref.grads.size(); ++k) compare(os, "grad of input", k, ref.grads[k], got.grads[k], tol, reported);
  return os.str();
}

}  // namespace weft::test
