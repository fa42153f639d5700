// Command spool is a Kafka-compatible broker.
//
//	spool serve [server.properties]   start a broker (and controller) node
//	spool version                     print the version
package main
