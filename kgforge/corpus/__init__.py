"""kgforge.corpus"""
