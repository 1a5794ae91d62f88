"""Real Gemini stream payloads quoted in reference/gemini-api.md 1.4, shared by tests."""

# FB-TD streaming-success-basic-reply-short.txt (framed with CRLF CRLF by the tests).
BASIC_PAYLOADS = [
    '{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"}}],'
    '"usageMetadata": {"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": '
    '[{"modality": "TEXT","tokenCount": 7}]},"modelVersion": "gemini-2.0-flash"}',
    '{"candidates": [{"content": {"parts": [{"text": " capital of Wyoming"}],"role": "model"}}],'
    '"usageMetadata": {"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": '
    '[{"modality": "TEXT","tokenCount": 7}]},"modelVersion": "gemini-2.0-flash"}',
    '{"candidates": [{"content": {"parts": [{"text": " is **Cheyenne**.\\n"}],"role": "model"},'
    '"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 7,"candidatesTokenCount": 10,'
    '"totalTokenCount": 17,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}],'
    '"candidatesTokensDetails": [{"modality": "TEXT","tokenCount": 10}]},'
    '"modelVersion": "gemini-2.0-flash"}',
]
# Reference 1.4, LOUTER streaming_function_calling/response_0.json.
FUNCTION_CALL_PAYLOAD = (
    '{"candidates": [{"content": {"parts": [{"functionCall": {"name": "getWeather","args": '
    '{"location": "Tokyo"}},"thoughtSignature": "CikBcsjafFK1...ybo="}],"role": "model"},'
    '"finishReason": "STOP","index": 0,"finishMessage": "Model generated function call(s)."}],'
    '"usageMetadata": {"promptTokenCount": 83,"candidatesTokenCount": 14,"totalTokenCount": 201,'
    '"promptTokensDetails": [{"modality": "TEXT","tokenCount": 83}],"thoughtsTokenCount": 104},'
    '"modelVersion": "gemini-2.5-flash","responseId": "qpc2afWVFJK4vr0Pq6WiyAU"}'
)
# Reference 1.4, FB-TD streaming-failure-prompt-blocked-safety.txt.
BLOCKED_PAYLOAD = (
    '{"promptFeedback": {"blockReason": "SAFETY","safetyRatings": [{"category": '
    '"HARM_CATEGORY_SEXUALLY_EXPLICIT","probability": "NEGLIGIBLE"},{"category": '
    '"HARM_CATEGORY_HATE_SPEECH","probability": "HIGH"},{"category": "HARM_CATEGORY_HARASSMENT",'
    '"probability": "NEGLIGIBLE"},{"category": "HARM_CATEGORY_DANGEROUS_CONTENT",'
    '"probability": "NEGLIGIBLE"}]}}'
)
