"""Transfer operators: stream local files (``local_to_pandora``) and Kodo objects (``kodo_to_pandora``) into repos.

The Kodo module needs the ``kodo`` extra (boto3) only when its operator runs; the local one never does.
"""
