// Taps: named intermediate values of a forward pass, captured on request for analysis (representation
// accuracy, token-representation norms, receptive field). Every family offers at least
//   "embed"          the input of the first layer (B, T, C)
//   "blocks.<l>.out" the residual stream after layer l (B, T, C)
// and may offer sub-block outputs ("blocks.<l>.attn", "blocks.<l>.mlp", ...; see the family's README).
// A captured Var stays valid until the Graph is cleared; after a backward through the graph its ->grad
// holds d(objective)/d(value) when the value required a gradient (parameters trainable, grad enabled).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/graph.h"

namespace weft::models {

class Taps {
 public:
  // Patterns: exact names, or a prefix ending in '*' ("blocks.*", "*" for everything).
  explicit Taps(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}

  bool wants(const std::string& name) const {
    for (const std::string& p : patterns_) {
      if (!p.empty() && p.back() == '*') {
        if (name.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0) return true;
      } else if (p == name) {
        return true;
      }
    }
    return false;
  }
  void offer(const std::string& name, Var v) {
    if (wants(name)) captured_.emplace_back(name, v);
  }
  // In forward order.
  const std::vector<std::pair<std::string, Var>>& captured() const { return captured_; }
  Var find(const std::string& name) const {
    for (const auto& [n, v] : captured_)
      if (n == name) return v;
    return nullptr;
  }
  void clear() { captured_.clear(); }  // call with Graph::clear()

 private:
  std::vector<std::string> patterns_;
  std::vector<std::pair<std::string, Var>> captured_;
};

}  // namespace weft::models
