"""kgforge.embed"""
