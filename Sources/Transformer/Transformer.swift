// The transformer layer: architectures (llama, qwen2, gemma3, phi3), the batched forward
// pass, the KV cache and activation capture sites. Filled by the "Real models" issue.
