"""The simulated vLLM engine: reads its launch with the project's one parser (`coldstart.vllm`), plays vLLM's
startup in virtual time with vLLM's own log lines, and fails the way vLLM fails when a manifest holds a trap."""
