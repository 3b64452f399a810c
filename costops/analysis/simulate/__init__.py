"""What-if savings on the team's own traffic (SPEC §8).

Every lever is a *scenario*: SQL that turns a relation of requests (the stored ones, filtered, or
what the previous lever of a plan left) into another relation with the same columns — tokens
moved into the cache, a batch flag set, a cheaper model tried first, outputs capped. Scenarios
are priced by the very same pricing SQL as the stored requests, so no cost formula is written
twice, and levers stack by feeding one scenario's output to the next.
"""
