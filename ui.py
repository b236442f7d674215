"""Start the web UI: `python ui.py` -> http://127.0.0.1:7860 over the default index
(built from the bundled articles on first start). Same as `rag serve`."""
from rag.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve"]))
