"""Looking at a data set: a static HTML site (``drivesynth view DIR --html OUT``) and a Rerun
recording (``--rerun FILE.rrd``). Samples are read through :func:`datagen.sample.decode_sample`
(the project's decoder), so the viewer follows the shard encodings."""
