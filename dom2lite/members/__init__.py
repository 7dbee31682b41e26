"""Seeds as a batch dimension: K independent runs of one algorithm trained in one process.

Explained in the Cost appendix. :mod:`dom2lite.members.rng` draws each member's random numbers from
its own generator; :mod:`dom2lite.members.stack` moves state between K solo runs and one wide
algorithm; :mod:`dom2lite.members.algo` builds the wide algorithm and its batches.
"""
