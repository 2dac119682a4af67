"""The SEO page-scoring pipeline of examples/python/seo_pipeline.py."""
