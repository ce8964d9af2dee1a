// Checkpoint recovery (launch/resume.h): the newest checkpoint that verifies, the folders set aside when a run
// continues from an older step, --restart, and metrics.jsonl cut back to the resumed step.
#include "launch/resume.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "launch/options.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"
#include "runtime/checkpoint/reader.h"

namespace weft::launch {

namespace fs = std::filesystem;

namespace {

// "step_" and eight digits: a committed save (an unfinished one ends in .tmp).
bool is_step_name(const std::string& n) {
  return n.size() == 13 && n.rfind("step_", 0) == 0 &&
         std::all_of(n.begin() + 5, n.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string read_latest(const std::string& run_dir) {
  std::ifstream in(run_dir + "/checkpoints/latest");
  std::string name;
  if (in) in >> name;
  return name;
}

std::string join(const std::vector<std::string>& lines, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? sep : "") + lines[i];
  return out;
}

// The first free RUN/<stem><k> (k = 1, 2, ...).
fs::path free_slot(const fs::path& parent, const std::string& stem) {
  for (int k = 1;; ++k)
    if (!fs::exists(parent / (stem + std::to_string(k)))) return parent / (stem + std::to_string(k));
}

// The step a checkpoint folder holds (its main file's attribute; the folder was verified by the caller).
int64_t checkpoint_step(const std::string& path) {
  return ckpt::H5File::open_read(path + "/" + ckpt::kMainFile).attr_int("step");
}

// Every rank receives rank 0's text.
void broadcast_text(par::Communicator& comm, std::string& text) {
  int64_t len = static_cast<int64_t>(text.size());
  comm.broadcast(&len, 1, DType::i64, 0);
  std::vector<int64_t> words(static_cast<size_t>((len + 7) / 8), 0);
  if (comm.rank() == 0 && !text.empty()) std::memcpy(words.data(), text.data(), text.size());
  if (!words.empty()) comm.broadcast(words.data(), static_cast<int64_t>(words.size()), DType::i64, 0);
  if (len == 0) text.clear();  // (an empty vector's data() may be null: no memcpy / assign from it)
  else text.assign(reinterpret_cast<const char*>(words.data()), static_cast<size_t>(len));
}

// --restart: the run folder's checkpoints and logs move to RUN/previous_<k>/.
void move_run_aside(const std::string& run_dir) {
  const std::vector<std::string> movable = {"checkpoints", "metrics.jsonl", "norms.h5"};
  std::vector<std::string> present;
  for (const auto& name : movable)
    if (fs::exists(fs::path(run_dir) / name)) present.push_back(name);
  if (present.empty()) return;
  const fs::path target = free_slot(run_dir, "previous_");
  fs::create_directories(target);
  for (const auto& name : present) fs::rename(fs::path(run_dir) / name, target / name);
  std::printf("--restart: moved %s of %s to %s; training starts at step 0\n", join(present, ", ").c_str(),
              run_dir.c_str(), target.string().c_str());
}

// Resuming at `step`: later checkpoint folders of this run move to RUN/checkpoints/set_aside/.
void set_aside_later(const std::string& run_dir, int64_t step) {
  for (const CheckpointFolder& f : checkpoint_folders(run_dir)) {
    if (f.step <= step) continue;
    const fs::path aside_dir = fs::path(run_dir) / "checkpoints" / "set_aside";
    fs::create_directories(aside_dir);
    fs::path target = aside_dir / fs::path(f.path).filename();
    if (fs::exists(target)) target = free_slot(aside_dir, fs::path(f.path).filename().string() + ".");
    fs::rename(f.path, target);
    std::fprintf(stderr, "note: %s is past the resumed step %lld: moved to %s (kept, not used)\n", f.path.c_str(),
                 static_cast<long long>(step), target.string().c_str());
  }
}

}  // namespace

std::vector<CheckpointFolder> checkpoint_folders(const std::string& run_dir) {
  std::vector<CheckpointFolder> out;
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && is_step_name(n)) out.push_back({std::stoll(n.substr(5)), e.path().string()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

CheckpointChoice choose_checkpoint(const std::string& run_dir, const std::string& resume, const std::string& flag) {
  CheckpointChoice c;
  if (resume.empty()) return c;
  if (resume != "latest" && resume != "auto") {
    if (!fs::exists(resume)) throw UsageError(flag + ": checkpoint '" + resume + "' does not exist");
    c.path = resume;
    return c;
  }
  const std::string dir = run_dir + "/checkpoints", latest_file = dir + "/latest";
  const std::vector<CheckpointFolder> folders = checkpoint_folders(run_dir);
  const std::string latest = read_latest(run_dir);
  std::vector<std::string> failures;  // newest first
  for (auto it = folders.rbegin(); it != folders.rend() && c.path.empty(); ++it) {
    try {
      ckpt::verify_checkpoint(it->path);
      c.path = it->path;
    } catch (const std::exception& e) {
      failures.push_back(fs::path(it->path).filename().string() + ": " + e.what());
    }
  }
  if (!c.path.empty()) {
    const std::string name = fs::path(c.path).filename().string();
    for (const auto& f : failures) c.notes.push_back("skipped checkpoint " + f);
    if (latest.empty())
      c.notes.push_back(latest_file + " is missing: using " + name + ", the newest checkpoint that verifies");
    else if (latest != name)
      c.notes.push_back(latest_file + " names " + latest + "; using " + name + ", the newest checkpoint that verifies");
    return c;
  }
  if (!folders.empty())
    throw UsageError(flag + " " + resume + ": no checkpoint in " + dir + " verifies:\n  " + join(failures, "\n  ") +
                     "\nnothing was changed; the run does not start over on its own (`weft train --restart` does, "
                     "moving these aside)");
  if (resume == "latest" || flag != "--resume")
    throw UsageError((flag == "--resume" ? flag + " " + resume : flag) + ": '" + dir +
                     "' holds no checkpoint (no checkpoint saved yet" +
                     (latest.empty() ? "" : "; `latest` names " + latest + ", which does not exist") + ")");
  if (!latest.empty())
    c.notes.push_back(latest_file + " names " + latest + ", which does not exist, and no checkpoint is left: " +
                      "starting at step 0");
  return c;
}

std::string resolve_checkpoint(const std::string& run_dir, const std::string& resume, const std::string& flag) {
  CheckpointChoice c = choose_checkpoint(run_dir, resume, flag);
  for (const auto& n : c.notes) std::fprintf(stderr, "warning: %s\n", n.c_str());
  return c.path;
}

std::string prepare_resume(const std::string& run_dir, const std::string& resume, bool restart, par::Communicator& comm) {
  std::string path;
  if (comm.rank() == 0) {  // a failure here throws: run_ranked takes every rank down
    if (restart) {
      if (!resume.empty()) throw UsageError("--restart and --resume " + resume + " contradict each other");
      move_run_aside(run_dir);
    } else {
      const std::vector<CheckpointFolder> folders = checkpoint_folders(run_dir);
      if (resume.empty() && !folders.empty())
        throw UsageError("--out " + run_dir + " already holds checkpoints (newest " +
                         fs::path(folders.back().path).filename().string() +
                         "): pass --resume auto to continue the run, or --restart to start over (moves them and "
                         "metrics.jsonl to " + run_dir + "/previous_<k>/); nothing was changed");
      CheckpointChoice c = choose_checkpoint(run_dir, resume, "--resume");
      for (const auto& n : c.notes) std::fprintf(stderr, "warning: %s\n", n.c_str());
      path = c.path;
      if (!path.empty()) {
        ckpt::verify_checkpoint(path);
        const int64_t step = checkpoint_step(path);
        set_aside_later(run_dir, step);
        const int64_t dropped = cut_metrics_back(run_dir + "/metrics.jsonl", step);
        if (dropped > 0)
          std::printf("metrics.jsonl: %lld lines past step %lld removed (the run continues from there)\n",
                      static_cast<long long>(dropped), static_cast<long long>(step));
      }
    }
  }
  if (comm.size() > 1) broadcast_text(comm, path);
  return path;
}

int64_t cut_metrics_back(const std::string& metrics_path, int64_t step) {
  std::ifstream in(metrics_path, std::ios::binary);
  if (!in) return 0;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  std::string kept;
  int64_t dropped = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool complete = end != std::string::npos;  // a line without its newline was torn by a kill
    if (!complete) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    bool keep = complete && line.back() == '}';
    const size_t at = line.find("\"step\": ");
    if (keep && at != std::string::npos) keep = std::strtoll(line.c_str() + at + 8, nullptr, 10) <= step;
    if (keep) kept += line + "\n";
    else ++dropped;
  }
  if (dropped == 0) return 0;
  const std::string tmp = metrics_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << kept;
    out.close();
    WEFT_CHECK(out.good(), "writing '", tmp, "' failed (disk full?); '", metrics_path, "' is unchanged");
  }
  fs::rename(tmp, metrics_path);
  return dropped;
}

}  // namespace weft::launch
