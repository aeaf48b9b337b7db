#include "server/ctl/cli.h"

int main(int argc, char** argv) { return mamori::ctl::Main(argc, argv); }
