"""Shopkeeper's MCP server as a desktop host starts it from the bundle (server/main.py in the .mcpb).

The bundle carries every dependency in server/lib, beside this file; it goes first on the path, so
whatever the host's Python has installed does not mix in.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))

from mcp_server.entrypoint import main  # needs the path above

if __name__ == "__main__":
    main()
