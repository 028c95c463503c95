"""The HIS database poller: reads member HIS tables by watermark through a per-vendor mapping file."""
