"""Attribution of a JavaScript heap's growth from V8 heap snapshots, the memlab way.

``window.HeapSnapshotWindow`` takes the snapshots over a run's measured
window, ``growth.grown_classes`` reads them (``reader``, ``graph``,
``classes``, ``paths``) and ``report`` renders what grew. Kept free of
imports here: the reporters import ``report`` without numpy.
"""
