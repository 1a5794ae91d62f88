"""The request message shapes the service accepts, as field tables.

Type notation: `string`, `int`, `float`, `bool`, `bytes`, `struct` (any JSON object, kept
verbatim), `value` (any JSON, kept verbatim), `enum:<Name>`, a message name, `[]<type>` for a
repeated field, `map:<type>` for a proto map. Field names are the lowerCamelCase JSON names;
the snake_case proto names are derived and accepted too.
"""

from __future__ import annotations

import re

# Schema is the OpenAPI subset of the proto: JSON-Schema-only keywords (additionalProperties,
# $schema, const, exclusiveMinimum, ...) are not fields, so they fail like any unknown name.
_SCHEMA = {
    "type": "enum:Type",
    "format": "string",
    "title": "string",
    "description": "string",
    "nullable": "bool",
    "enum": "[]string",
    "maxItems": "int",
    "minItems": "int",
    "properties": "map:Schema",
    "required": "[]string",
    "minProperties": "int",
    "maxProperties": "int",
    "minLength": "int",
    "maxLength": "int",
    "pattern": "string",
    "example": "value",
    "anyOf": "[]Schema",
    "propertyOrdering": "[]string",
    "default": "value",
    "items": "Schema",
    "minimum": "float",
    "maximum": "float",
}

MESSAGES: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "model": "string",
        "contents": "[]Content",
        "systemInstruction": "Content",
        "tools": "[]Tool",
        "toolConfig": "ToolConfig",
        "safetySettings": "[]SafetySetting",
        "generationConfig": "GenerationConfig",
        "cachedContent": "string",
        "serviceTier": "enum:ServiceTier",
        "store": "bool",
    },
    "CountTokensRequest": {
        "contents": "[]Content",
        "generateContentRequest": "GenerateContentRequest",
    },
    "EmbedContentRequest": {
        "model": "string",
        "content": "Content",
        "taskType": "enum:TaskType",
        "title": "string",
        "outputDimensionality": "int",
    },
    "BatchEmbedContentsRequest": {"requests": "[]EmbedContentRequest"},
    "Content": {"role": "string", "parts": "[]Part"},
    "Part": {
        "text": "string",
        "inlineData": "Blob",
        "fileData": "FileData",
        "functionCall": "FunctionCall",
        "functionResponse": "FunctionResponse",
        "executableCode": "ExecutableCode",
        "codeExecutionResult": "CodeExecutionResult",
        "videoMetadata": "struct",
        "thought": "bool",
        "thoughtSignature": "bytes",
        "partMetadata": "struct",
        "mediaResolution": "struct",
    },
    "Blob": {"mimeType": "string", "data": "bytes"},
    "FileData": {"mimeType": "string", "fileUri": "string"},
    "FunctionCall": {"id": "string", "name": "string", "args": "struct"},
    "FunctionResponse": {
        "id": "string",
        "name": "string",
        "response": "struct",
        "parts": "[]FunctionResponsePart",
        "willContinue": "bool",
        "scheduling": "enum:Scheduling",
    },
    "FunctionResponsePart": {"inlineData": "Blob", "fileData": "FileData"},
    "ExecutableCode": {"language": "enum:Language", "code": "string"},
    "CodeExecutionResult": {"outcome": "enum:Outcome", "output": "string"},
    "Tool": {
        "functionDeclarations": "[]FunctionDeclaration",
        "googleSearchRetrieval": "struct",
        "codeExecution": "struct",
        "googleSearch": "struct",
        "computerUse": "struct",
        "urlContext": "struct",
        "fileSearch": "struct",
        "googleMaps": "struct",
    },
    "FunctionDeclaration": {
        "name": "string",
        "description": "string",
        "parameters": "Schema",
        "parametersJsonSchema": "value",
        "response": "Schema",
        "responseJsonSchema": "value",
        "behavior": "enum:Behavior",
    },
    "Schema": _SCHEMA,
    "ToolConfig": {
        "functionCallingConfig": "FunctionCallingConfig",
        "retrievalConfig": "struct",
        "includeServerSideToolInvocations": "bool",
    },
    "FunctionCallingConfig": {"mode": "enum:Mode", "allowedFunctionNames": "[]string"},
    "SafetySetting": {"category": "enum:HarmCategory", "threshold": "enum:HarmBlockThreshold"},
    "GenerationConfig": {
        "candidateCount": "int",
        "stopSequences": "[]string",
        "maxOutputTokens": "int",
        "temperature": "float",
        "topP": "float",
        "topK": "int",
        "seed": "int",
        "responseMimeType": "string",
        "responseSchema": "Schema",
        "responseJsonSchema": "value",
        "presencePenalty": "float",
        "frequencyPenalty": "float",
        "responseLogprobs": "bool",
        "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool",
        "responseModalities": "[]enum:Modality",
        "speechConfig": "struct",
        "thinkingConfig": "ThinkingConfig",
        "imageConfig": "struct",
        "mediaResolution": "enum:MediaResolution",
    },
    "ThinkingConfig": {
        "includeThoughts": "bool",
        "thinkingBudget": "int",
        "thinkingLevel": "enum:ThinkingLevel",
    },
}

ENUMS: dict[str, frozenset[str]] = {
    "Type": frozenset(
        ["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"]
    ),
    "Mode": frozenset(["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"]),
    "HarmCategory": frozenset(
        [
            "HARM_CATEGORY_HARASSMENT",
            "HARM_CATEGORY_HATE_SPEECH",
            "HARM_CATEGORY_SEXUALLY_EXPLICIT",
            "HARM_CATEGORY_DANGEROUS_CONTENT",
            "HARM_CATEGORY_CIVIC_INTEGRITY",
            "HARM_CATEGORY_UNSPECIFIED",
        ]
    ),
    "HarmBlockThreshold": frozenset(
        [
            "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
            "BLOCK_LOW_AND_ABOVE",
            "BLOCK_MEDIUM_AND_ABOVE",
            "BLOCK_ONLY_HIGH",
            "BLOCK_NONE",
            "OFF",
        ]
    ),
    "ThinkingLevel": frozenset(
        ["THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"]
    ),
    "TaskType": frozenset(
        [
            "TASK_TYPE_UNSPECIFIED",
            "RETRIEVAL_QUERY",
            "RETRIEVAL_DOCUMENT",
            "SEMANTIC_SIMILARITY",
            "CLASSIFICATION",
            "CLUSTERING",
            "QUESTION_ANSWERING",
            "FACT_VERIFICATION",
            "CODE_RETRIEVAL_QUERY",
        ]
    ),
    "Modality": frozenset(["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"]),
    "MediaResolution": frozenset(
        [
            "MEDIA_RESOLUTION_UNSPECIFIED",
            "MEDIA_RESOLUTION_LOW",
            "MEDIA_RESOLUTION_MEDIUM",
            "MEDIA_RESOLUTION_HIGH",
        ]
    ),
    "ServiceTier": frozenset(["SERVICE_TIER_UNSPECIFIED", "STANDARD", "FLEX", "PRIORITY"]),
    "Behavior": frozenset(["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"]),
    "Scheduling": frozenset(["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"]),
    "Language": frozenset(["LANGUAGE_UNSPECIFIED", "PYTHON"]),
    "Outcome": frozenset(
        [
            "OUTCOME_UNSPECIFIED",
            "OUTCOME_OK",
            "OUTCOME_FAILED",
            "OUTCOME_DEADLINE_EXCEEDED",
        ]
    ),
}

# Proto enum names where the service is known to accept any letter case on the wire.
CASE_INSENSITIVE_ENUMS = frozenset(["Type", "ServiceTier", "ThinkingLevel"])


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# JSON name or proto name -> canonical JSON name, per message.
ALIASES: dict[str, dict[str, str]] = {
    msg: {alias: name for name in fields for alias in (name, snake(name))}
    for msg, fields in MESSAGES.items()
}
