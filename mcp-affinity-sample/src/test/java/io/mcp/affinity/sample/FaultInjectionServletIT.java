package io.mcp.affinity.sample;

import java.util.List;

/** The fault suite on the servlet stack. */
class FaultInjectionServletIT extends FaultInjectionIT {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--spring.main.web-application-type=servlet");
	}

}
