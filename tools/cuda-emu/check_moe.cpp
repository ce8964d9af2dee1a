// Emulator checks of the moe family (moe.cu: moe_route through the CUB shim, moe_scatter_rows) against the CPU
// twins on the cases of tests/cases/moe_cases.h. moe_route: order and offsets must equal the CPU's exactly
// (a stable sort on both sides), with a workspace that holds the sort and one too small (a clear error), and
// an id out of range must give the CPU's error. moe_scatter_rows: copy and accumulate into a prefilled
// destination, f32 and bf16, aligned and misaligned; one float add per element before one rounding, so exact.
// gather_rows is the index family's; the per-expert GEMMs run on cuBLASLt, which the emulator does not run.
#include "check_util.h"
#include "tests/cases/moe_cases.h"

using namespace check;
using namespace weft;

namespace {

void route() {
  Exec cpu = cpu_exec(1);
  for (const cases::MoeCase& s : cases::kMoeCases) {
    if (!cases::runs_in(s.runners, cases::kEmu)) continue;
    run("moe_route " + cases::describe(s), [&](Case& c) {
      const std::vector<int32_t> ids = cases::case_experts(s);
      std::vector<int32_t> order_r(s.M);
      std::vector<int64_t> off_r(s.E + 1), off(s.E + 1, -5);
      cpu::moe_route(cpu, order_r.data(), off_r.data(), ids.data(), s.M, s.E);
      Buf id(s.M, 4), order(s.M, 4);
      std::memcpy(id.p(), ids.data(), s.M * 4);
      Exec ex = emu_exec(1 << 20);
      cuda::moe_route(ex, order.as<int32_t>(), off.data(), id.as<int32_t>(), s.M, s.E);
      order.check_guards("order"), id.check_guards("expert");
      c.exact("order", order_r, order.as<int32_t>());
      std::vector<int32_t> off32_r(off_r.begin(), off_r.end()), off32(off.begin(), off.end());
      c.exact("offsets", off32_r, off32.data());
    });
  }
  run("moe_route id out of range", [&](Case& c) {
    const std::vector<int32_t> ids = {2, 0, 5, 1, -3};
    Buf id(5, 4), order(5, 4);
    std::memcpy(id.p(), ids.data(), 5 * 4);
    std::vector<int64_t> off(4);
    Exec ex = emu_exec(1 << 20);
    std::string err;
    try {
      cuda::moe_route(ex, order.as<int32_t>(), off.data(), id.as<int32_t>(), 5, 3);
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (err.find("[route_by_expert] expert id 5 of row 2 is out of [0, 3)") == std::string::npos)
      c.worst = INFINITY, c.bad = "error was: " + (err.empty() ? std::string("none") : err);
  });
  run("moe_route workspace too small", [&](Case& c) {
    const std::vector<int32_t> ids(3000, 1);
    Buf id(3000, 4), order(3000, 4);
    std::memcpy(id.p(), ids.data(), 3000 * 4);
    std::vector<int64_t> off(5);
    Exec ex = emu_exec(4096);
    std::string err;
    try {
      cuda::moe_route(ex, order.as<int32_t>(), off.data(), id.as<int32_t>(), 3000, 4);
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (err.find("[cuda::moe_route] the Exec workspace (4096 bytes) cannot hold") == std::string::npos)
      c.worst = INFINITY, c.bad = "error was: " + (err.empty() ? std::string("none") : err);
  });
}

void scatter(bool bf) {
  const DType dt = bf ? DType::bf16 : DType::f32;
  Exec cpu = cpu_exec(1);
  for (const cases::MoeCase& s : cases::kMoeCases)
    for (bool accumulate : {false, true})
      for (int shift : {0, 1}) {
        if (!cases::runs_in(s.runners, cases::kEmu)) continue;
        run(fmt("moe_scatter_rows %s %s%s%s", bf ? "bf16" : "f32", cases::describe(s).c_str(), accumulate ? " +=" : "",
                cases::misaligned_tag(shift)),
            [&](Case& c) {
              const std::vector<int32_t> ids = cases::case_experts(s);
              std::vector<int32_t> order(s.M);
              std::vector<int64_t> off(s.E + 1);
              cpu::moe_route(cpu, order.data(), off.data(), ids.data(), s.M, s.E);
              Buf idx(s.M, 4);
              std::memcpy(idx.p(), order.data(), s.M * 4);
              FTensor src(uniform(s.M * s.O, -1, 1), bf, shift), dst(uniform(s.M * s.O, -1, 1), bf, shift);
              std::vector<float> dst_r = dst.ref;
              cpu::moe_scatter_rows(cpu, DType::f32, dst_r.data(), src.r(), order.data(), s.M, s.M, s.O, accumulate);
              if (bf)
                for (float& v : dst_r) v = round_bf16(v);
              Exec ex = emu_exec(0);
              cuda::moe_scatter_rows(ex, dt, dst.p(), src.p(), idx.as<int32_t>(), s.M, s.M, s.O, accumulate);
              dst.buf.check_guards("dst"), src.buf.check_guards("src");
              c("dst", dst_r, dst.got(), Tol{0, 0});
            });
      }
}

}  // namespace

void check_moe() {
  route();
  for (bool bf : {false, true}) scatter(bf);
}
