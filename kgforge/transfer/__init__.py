"""kgforge.transfer"""
