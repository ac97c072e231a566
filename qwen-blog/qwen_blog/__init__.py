"""qwen_blog — Qwen2 explained and trained on ``tinyqwen``.

Two halves share this package:

- the walkthrough (``trace``, ``figures``, the chapters under ``docs/``) follows one input tensor through
  the model;
- the training half (``data``, ``pretrain``, ``sft``, ``lora``, ``distributed``, ``sample``) pretrains a
  tiny Qwen2 from scratch, instruction-tunes it with an assistant-only loss, optionally through a
  hand-written LoRA, on one CPU or on N GPUs under ``torchrun``.

    $ python -m qwen_blog pretrain --config tiny --max-steps 30 --out runs/demo
    $ python -m qwen_blog sample --ckpt runs/demo "小明有3个苹果"

Importing the package imports nothing heavy; each subcommand imports torch when it runs.
"""

__version__ = "0.1.0"
