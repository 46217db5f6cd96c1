package io.mcp.affinity.sample;

import java.util.Arrays;

import io.mcp.affinity.sample.cluster.LocalCluster;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The sample MCP server. Its tools keep per-session state in this instance's memory, so without session affinity a
 * second instance would not find it. With {@code --local-cluster} it starts a whole local cluster instead (see
 * {@link LocalCluster}).
 */
@SpringBootApplication
public class SampleApplication {

	public static void main(String[] args) throws Exception {
		if (Arrays.asList(args).contains("--local-cluster")) {
			LocalCluster.main(args);
			return;
		}
		SpringApplication.run(SampleApplication.class, args);
	}

}
