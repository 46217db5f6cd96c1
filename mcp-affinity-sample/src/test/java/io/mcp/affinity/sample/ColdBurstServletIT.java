package io.mcp.affinity.sample;

import java.util.List;

/** The cold-burst scenarios on the servlet stack: three cold Tomcat JVMs started together, a burst of clients. */
class ColdBurstServletIT extends ColdBurstIT {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--spring.main.web-application-type=servlet");
	}

}
