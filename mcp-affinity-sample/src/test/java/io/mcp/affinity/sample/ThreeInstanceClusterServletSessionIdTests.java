package io.mcp.affinity.sample;

import java.util.List;

/** The session-id ownership suite on the servlet stack: both ownership modes hold on both stacks. */
class ThreeInstanceClusterServletSessionIdTests extends ThreeInstanceClusterSessionIdTests {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--mcp.affinity.ownership=session-id", "--spring.main.web-application-type=servlet");
	}

}
