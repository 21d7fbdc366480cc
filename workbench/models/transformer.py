"""The cross-attention transformer decoder of HMR 2.0's SMPL head (``components/pose_transformer.py``).

Layout and parameter names follow the published code so its weights load unchanged::

    to_token_embedding            Linear(token_dim -> dim)
    pos_embedding                 (1, num_tokens, dim)
    transformer.layers.l.0        PreNorm(SelfAttention)    .norm, .fn.to_qkv, .fn.to_out.0
    transformer.layers.l.1        PreNorm(CrossAttention)   .norm, .fn.to_q, .fn.to_kv, .fn.to_out.0
    transformer.layers.l.2        PreNorm(FeedForward)      .norm, .fn.net.0, .fn.net.3

Each sub-layer is residual (``x = f(norm(x)) + x``); the context (backbone tokens) is *not*
normalised by the cross-attention's PreNorm, and there is no final norm. Attention uses
``F.scaled_dot_product_attention``; :func:`attention_reference` is the slow einsum version the tests
compare it with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PreNorm", "SelfAttention", "CrossAttention", "FeedForward", "TransformerCrossAttn",
           "TransformerDecoder", "attention_reference"]


def attention_reference(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Softmax attention written out: (B, h, Nq, d), (B, h, Nk, d), (B, h, Nk, d) -> (B, h, Nq, d)."""
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) * q.shape[-1] ** -0.5
    return torch.einsum("bhqk,bhkd->bhqd", scores.softmax(dim=-1), v)


def _split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, N, h*d) -> (B, h, N, d)."""
    B, N, _ = x.shape
    return x.reshape(B, N, heads, -1).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    """(B, h, N, d) -> (B, N, h*d)."""
    B, h, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, h * d)


def _output_projection(inner: int, dim: int, heads: int, dim_head: int, dropout: float) -> nn.Module:
    # The published code drops the projection when a single head already has the model width;
    # kept so the key set (``to_out.0``) matches in every configuration.
    if heads == 1 and dim_head == dim:
        return nn.Identity()
    return nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))


class SelfAttention(nn.Module):
    """Multi-head self-attention; q, k, v from one bias-free Linear. (B, N, dim) -> (B, N, dim)."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dropout = heads, dropout
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = _output_projection(inner, dim, heads, dim_head, dropout)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = (_split_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))  # (B, h, N, d)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.to_out(_merge_heads(out))


class CrossAttention(nn.Module):
    """Queries (B, Nq, dim) attend to a context (B, Nk, context_dim) -> (B, Nq, dim)."""

    def __init__(self, dim: int, context_dim: int | None = None, heads: int = 8, dim_head: int = 64,
                 dropout: float = 0.0) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dropout = heads, dropout
        # Construction order as published (to_kv first) so state-dict listings read the same.
        self.to_kv = nn.Linear(context_dim or dim, inner * 2, bias=False)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_out = _output_projection(inner, dim, heads, dim_head, dropout)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        context = x if context is None else context
        k, v = (_split_heads(t, self.heads) for t in self.to_kv(context).chunk(2, dim=-1))  # (B, h, Nk, d)
        q = _split_heads(self.to_q(x), self.heads)  # (B, h, Nq, d)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.to_out(_merge_heads(out))


class FeedForward(nn.Module):
    """Linear -> GELU -> Dropout -> Linear -> Dropout; indices 0 and 3 hold the weights."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PreNorm(nn.Module):
    """LayerNorm on the input (not on the context), then ``fn``."""

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)  # eps 1e-5, PyTorch's default, as published
        self.fn = fn

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        return self.fn(self.norm(x), **kwargs)


class TransformerCrossAttn(nn.Module):
    """``depth`` x [self-attention, cross-attention, feed-forward], each pre-norm and residual."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0,
                 context_dim: int | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([
                PreNorm(dim, SelfAttention(dim, heads, dim_head, dropout)),
                PreNorm(dim, CrossAttention(dim, context_dim, heads, dim_head, dropout)),
                PreNorm(dim, FeedForward(dim, mlp_dim, dropout)),
            ])
            for _ in range(depth)
        )

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        for self_attn, cross_attn, ff in self.layers:
            x = self_attn(x) + x
            x = cross_attn(x, context=context) + x
            x = ff(x) + x
        return x


class TransformerDecoder(nn.Module):
    """Tokens (B, num_tokens, token_dim) + context (B, Nk, context_dim) -> (B, num_tokens, dim)."""

    def __init__(self, num_tokens: int, token_dim: int, dim: int, depth: int, heads: int, mlp_dim: int,
                 dim_head: int = 64, dropout: float = 0.0, context_dim: int | None = None) -> None:
        super().__init__()
        self.to_token_embedding = nn.Linear(token_dim, dim)
        self.pos_embedding = nn.Parameter(torch.randn(1, num_tokens, dim))
        # The published decoder also has a token dropout (emb_dropout), always configured to 0, i.e.
        # a no-op without parameters; left out.
        self.transformer = TransformerCrossAttn(dim, depth, heads, dim_head, mlp_dim, dropout, context_dim)

    def forward(self, tokens: Tensor, context: Tensor) -> Tensor:
        x = self.to_token_embedding(tokens)
        x = x + self.pos_embedding[:, : x.shape[1]]
        return self.transformer(x, context=context)
