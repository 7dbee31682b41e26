"""dom2lite: DOM2, diffusion policies for offline multi-agent RL, as a compact library.

The book (``book/``) explains every module; each public function names the chapter that explains it.
Heavy or optional back-ends (MuJoCo, plotting) are imported where they are used.
"""

from dom2lite.device import resolve_device
from dom2lite.profiles import Profile, current_profile, pick
from dom2lite.seeding import pin_threads, seed_everything

__version__ = "0.1.0"

__all__ = [
    "Profile",
    "current_profile",
    "pick",
    "pin_threads",
    "resolve_device",
    "seed_everything",
    "__version__",
]
