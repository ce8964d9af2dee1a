// Communicator::all_to_all_v on every implementation: uneven counts, zero counts (rank 0 sends nothing to
// rank 1, the last rank receives nothing), displacements with gaps on both sides (gap elements must stay
// untouched), f32 and i32; local (one rank), MPI on 2 and 4 ranks (world and a split sub-communicator),
// NCCL on one GPU (skipped without one). Label mpi: the drivers start `mpirun`.
#include <gtest/gtest.h>

#include <vector>

#include "parallel/comm_nccl.h"
#include "runtime/exec.h"
#include "runtime/memory.h"
#include "tests/parallel/mpi_worker.h"

namespace weft::test {
namespace {

// Elements rank s sends to rank r in a world of P ranks.
int64_t count(int s, int r, int P) {
  if (P > 1 && r == P - 1) return 0;  // the last rank receives nothing
  if (s == 0 && r == 1) return 0;     // rank 0 sends nothing to rank 1
  return (s * 3 + r * 5 + 1) % 4 + (s == r ? 2 : 0);
}
int value(int s, int r, int64_t i) { return s * 1000 + r * 100 + static_cast<int>(i); }
constexpr int kGap = -7;  // fills the gaps between blocks

template <class T>
DType dtype_of() {
  return std::is_same_v<T, float> ? DType::f32 : DType::i32;
}

// One all-to-all of rank `me` of P over comm, with buffers on `dev`; checks what arrives.
template <class T>
void check_all_to_all(par::Communicator& comm, Device dev = Device::cpu) {
  const int P = comm.size(), me = comm.rank();
  std::vector<int64_t> sc(P), sd(P), rc(P), rd(P);
  int64_t at = 0;
  for (int r = P - 1; r >= 0; --r) {  // send blocks in reverse rank order, two gap elements between
    sc[r] = count(me, r, P);
    sd[r] = at;
    at += sc[r] + 2;
  }
  std::vector<T> send(at, T(kGap));
  for (int r = 0; r < P; ++r)
    for (int64_t i = 0; i < sc[r]; ++i) send[sd[r] + i] = T(value(me, r, i));
  at = 1;
  for (int s = 0; s < P; ++s) {  // receive blocks in rank order, one gap element before each
    rc[s] = count(s, me, P);
    rd[s] = at;
    at += rc[s] + 1;
  }
  std::vector<T> recv(at, T(kGap));
  const size_t sb = send.size() * sizeof(T), rb = recv.size() * sizeof(T);
  OwnedTensor dsend(DType::i32, {static_cast<int64_t>(send.size())}, dev);
  OwnedTensor drecv(DType::i32, {static_cast<int64_t>(recv.size())}, dev);
  device_copy(dev, dsend.tensor().data, Device::cpu, send.data(), sb);
  device_copy(dev, drecv.tensor().data, Device::cpu, recv.data(), rb);
  comm.all_to_all_v(dsend.tensor().data, sc.data(), sd.data(), drecv.tensor().data, rc.data(), rd.data(), dtype_of<T>());
  if (dev == Device::cuda) comm.barrier();
  device_copy(Device::cpu, recv.data(), dev, drecv.tensor().data, rb);
  std::vector<T> expected(recv.size(), T(kGap));
  for (int s = 0; s < P; ++s)
    for (int64_t i = 0; i < rc[s]; ++i) expected[rd[s] + i] = T(value(s, me, i));
  EXPECT_EQ(recv, expected) << "rank " << me << " of " << P;
}

TEST(AllToAllV, LocalF32AndI32) {
  auto comm = par::make_local_communicator();
  check_all_to_all<float>(*comm);
  check_all_to_all<int32_t>(*comm);
}

TEST(AllToAllV, LocalZeroCountsAndMismatch) {
  auto comm = par::make_local_communicator();
  const int64_t zero = 0, two = 2, at0 = 0;
  float x = 1.f, y = 5.f;
  comm->all_to_all_v(&x, &zero, &at0, &y, &zero, &at0, DType::f32);  // nothing moves
  EXPECT_EQ(y, 5.f);
  EXPECT_THROW(comm->all_to_all_v(&x, &two, &at0, &y, &zero, &at0, DType::f32), Error);
}

TEST(AllToAllV, NcclOneGpu) {
  if (!par::nccl_available() || cuda::device_count() == 0) GTEST_SKIP() << "no NCCL or no CUDA device";
  ExecContext ctx(Device::cuda, 0, 0);
  auto bootstrap = par::make_local_communicator();
  auto nccl = par::make_nccl_communicator(*bootstrap, ctx.get());
  check_all_to_all<float>(*nccl, Device::cuda);
  check_all_to_all<int32_t>(*nccl, Device::cuda);
}

TEST(AllToAllVWorker, WorldF32AndI32) {
  WEFT_MPI_WORKER_ONLY();
  check_all_to_all<float>(mpi_world());
  check_all_to_all<int32_t>(mpi_world());
}

TEST(AllToAllVWorker, SplitHalves) {  // sub-communicators of the ranks with the same rank % 2
  WEFT_MPI_WORKER_ONLY();
  auto half = mpi_world().split(mpi_world().rank() % 2, mpi_world().rank());
  EXPECT_EQ(half->size(), mpi_world().size() / 2);
  check_all_to_all<float>(*half);
  check_all_to_all<int32_t>(*half);
}

TEST(AllToAllV, Mpi2Ranks) { WEFT_RUN_MPI_WORKERS(2, "AllToAllVWorker.*"); }
TEST(AllToAllV, Mpi4Ranks) { WEFT_RUN_MPI_WORKERS(4, "AllToAllVWorker.*"); }

}  // namespace
}  // namespace weft::test
