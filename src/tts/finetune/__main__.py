"""``python -m tts.finetune finetune|select ...`` (also ``accelerate launch -m tts.finetune finetune ...``)."""

from .cli import main

raise SystemExit(main())
