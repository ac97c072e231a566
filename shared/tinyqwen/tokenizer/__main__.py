"""``python -m tinyqwen.tokenizer TEXT``: show a text's pre-tokens, tokens and ids."""

from tinyqwen.tokenizer.tokenizer import main

main()
