"""kgforge.extract"""
