// The InfoNCE objective on cosine similarity (spec masked-mixer.md A.10 item 10), composed from runtime ops so
// that it runs and differentiates on every backend: for a group [query, document_1 .. document_{N-1}] with one
// match m,
//   loss = -log( exp(cos(q, s_m) / tau) / sum_j exp(cos(q, s_j) / tau) )
// with cos(a, b) = a . b / (|a| |b|) (each vector scaled by 1 / sqrt(|x|^2 + 1e-12)). The embeddings are a
// generative model's hidden state at one tap and position (tap_embeddings), so the gradient reaches every
// parameter below the tap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace weft::models {

// The tap's value (S, L, C) at one position per sequence -> (S, C), for ids (S, L) on the model's device and
// positions[s] in 0 .. L-1 (host). Runs model.logits with the tap set (the head's output is not used, so its
// backward never runs); a tap the forward does not offer is an Error naming it.
Var tap_embeddings(Graph& g, Model& model, ParamStore& store, const Tensor& ids, const std::string& tap,
                   const std::vector<int64_t>& positions);

struct InfoNce {
  Var loss;    // (1): the groups' summed losses divided by normalizer (> 0), else their mean
  Var scores;  // (G, N - 1): cos(q, s_j) / tau, the logits of the softmax
};

// embeddings (G * N, C): rows g N .. g N + N - 1 are group g's [query, document_1 .. document_{N-1}];
// targets (G) i32: the index j - 1 of the match among the documents. Float embeddings of any dtype; the
// loss is computed in f32 (f64 for f64 inputs).
InfoNce infonce_loss(Graph& g, Var embeddings, int64_t group, Var targets, float tau, float normalizer = 0.0f);

}  // namespace weft::models
