"""The experiment index's infrastructure: streams on the tables that hold runs and summaries, one
consumer with bisection, partial-batch responses and an on-failure queue, and the API reading it."""
from __future__ import annotations


def test_tracking_and_metrics_tables_stream_both_images(template):
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    streamed = {lid for lid, r in tables.items() if r["Properties"].get("StreamSpecification")}
    assert {lid for lid in streamed if "Tracking" in lid or "Metrics" in lid} == streamed and len(streamed) == 2
    for lid in streamed:
        assert tables[lid]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_one_consumer_with_bisection_partial_failures_and_an_on_failure_queue(template):
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    sources = sorted(m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] for m in mappings.values())
    assert len(sources) == 2 and "Tracking" in sources[1] and "Metrics" in sources[0]
    functions = {m["Properties"]["FunctionName"]["Ref"] for m in mappings.values()}
    assert len(functions) == 1
    queues = template.find_resources("AWS::SQS::Queue")
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["BisectBatchOnFunctionError"] is True
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] in queues
    consumer = template.find_resources("AWS::Lambda::Function")[functions.pop()]["Properties"]
    assert consumer["Handler"] == "skytune_index.handler.lambda_handler"
    assert "INDEX_TABLE" in consumer["Environment"]["Variables"]


def test_the_api_reads_the_index_table(template):
    functions = template.find_resources("AWS::Lambda::Function")
    api = next(f for f in functions.values() if f["Properties"].get("Handler") == "skytune_api.handler.lambda_handler")
    assert api["Properties"]["Environment"]["Variables"]["INDEX_TABLE"]["Ref"].startswith("IndexIndexTable")
