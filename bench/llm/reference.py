"""The reference side of bench/llm.sh: sentence-transformers on PyTorch CPU and llama.cpp
(llama-cpp-python) on the same model files and inputs as the Rust examples, 2 threads each.
Prints `embeddings batch N: R sentences/s` and `generation: R tokens/s` lines."""
import os
import sys
import time

models = sys.argv[1]
threads = int(os.environ.get("BENCH_THREADS", "2"))

# The same 256 twelve-word sentences as crates/embeddings/examples/throughput.rs.
words = ["invoice", "payment", "the", "customer", "order", "shipped", "late", "report",
         "quarterly", "growth"]
sentences = [" ".join(words[(i * 7 + j * 3) % len(words)] for j in range(12)) for i in range(256)]

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

torch.set_num_threads(threads)
model = SentenceTransformer(os.path.join(models, "all-minilm-l6-v2"), device="cpu")
model.encode(sentences[:8])
for batch in (1, 32):
    started = time.perf_counter()
    model.encode(sentences, batch_size=batch)
    print(f"embeddings batch {batch}: {len(sentences) / (time.perf_counter() - started):.1f} sentences/s",
          flush=True)

from llama_cpp import Llama  # noqa: E402

llm = Llama(model_path=os.path.join(models, "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"),
            n_threads=threads, n_ctx=2048, verbose=False)
# The prompt the Rust example renders with the model's chat template.
prompt = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
          "<|im_end|>\n<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n")
best = 0.0
for _ in range(3):
    first = None
    count = 0
    for _chunk in llm.create_completion(prompt, max_tokens=64, temperature=0, stream=True):
        count += 1
        if first is None:
            first = time.perf_counter()
    rate = (count - 1) / (time.perf_counter() - first)
    best = max(best, rate)
print(f"generation: {best:.1f} tokens/s", flush=True)
