"""The printable 便民生活服务圈导视图 (convenience life-circle guide map) of an area."""
