"""User Activity: plays, likes, follows -> the graph, Kinesis and SNS."""
