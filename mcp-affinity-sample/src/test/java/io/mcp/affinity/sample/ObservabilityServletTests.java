package io.mcp.affinity.sample;

import java.util.List;

/** The same meters, log events, endpoint and health on the servlet stack. */
class ObservabilityServletTests extends ObservabilityTests {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--spring.main.web-application-type=servlet");
	}

}
