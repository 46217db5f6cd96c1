package io.mcp.affinity.sample.conformance;

import java.util.Map;

/**
 * Content the conformance scenarios look for, shared by tools, resources and prompts.
 */
final class ConformanceContent {

	/** A 1x1 PNG, base64. */
	static final String PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

	/** A WAV file with no samples, base64. */
	static final String WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQAAAAA=";

	/** The input schema of a tool without arguments: the suite's client rejects a schema without a type. */
	static final Map<String, Object> NO_ARGUMENTS = Map.of("type", "object", "properties", Map.of());

	private ConformanceContent() {
	}

}
