"""Getting checkpoints: pull (hub, mirror, ModelScope, local folder), the verified cache, and `locate`,
which finds a named model's files on this machine."""

from zoo.hub.fetch import PullResult, cached_folder, check_conversion, parse_target, pull, revisions
from zoo.hub.locate import entry_folder, locate

__all__ = ["PullResult", "cached_folder", "check_conversion", "entry_folder", "locate", "parse_target", "pull",
           "revisions"]
