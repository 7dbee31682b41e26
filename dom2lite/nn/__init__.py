"""Networks shared by every algorithm: per-agent MLPs evaluated for all agents in one batched call."""

from dom2lite.nn.agent_mlp import AgentLinear, AgentMLP, make_activation

__all__ = ["AgentLinear", "AgentMLP", "make_activation"]
