package codecs

import (
	"sort"
	"strings"
)

// The systems of an OBD-II trouble code, named by its first character.
const (
	SystemPowertrain = "powertrain" // P
	SystemChassis    = "chassis"    // C
	SystemBody       = "body"       // B
	SystemNetwork    = "network"    // U
)

// ClassifyDTC returns the system of an OBD-II trouble code (P powertrain, C chassis, B body,
// U network) and whether it is generic: second character 0 or 2 are SAE-defined codes, 1 and 3
// manufacturer-specific. The code is upper-cased first; an invalid code yields ("", false).
func ClassifyDTC(code string) (system string, generic bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if !ValidDTCCode(code) {
		return "", false
	}
	switch code[0] {
	case 'P':
		system = SystemPowertrain
	case 'C':
		system = SystemChassis
	case 'B':
		system = SystemBody
	case 'U':
		system = SystemNetwork
	}
	return system, code[1] == '0' || code[1] == '2'
}

// DescribeDTC returns the SAE J2012 description of a common trouble code from the bundled table;
// ok is false for a code the table does not hold. The code is upper-cased first.
func DescribeDTC(code string) (description string, ok bool) {
	description, ok = dtcDescriptions[strings.ToUpper(strings.TrimSpace(code))]
	return description, ok
}

// KnownDTCCodes returns the codes of the bundled table, sorted. The slice is the caller's.
func KnownDTCCodes() []string {
	codes := make([]string, 0, len(dtcDescriptions))
	for code := range dtcDescriptions {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return codes
}

// dtcDescriptions is a read-only table of common OBD-II codes and their descriptions.
var dtcDescriptions = map[string]string{
	// Powertrain: fuel, air and sensors.
	"P0010": `"A" Camshaft Position Actuator Circuit (Bank 1)`,
	"P0011": `"A" Camshaft Position - Timing Over-Advanced or System Performance (Bank 1)`,
	"P0016": "Crankshaft Position - Camshaft Position Correlation (Bank 1 Sensor A)",
	"P0087": "Fuel Rail/System Pressure - Too Low",
	"P0101": "Mass or Volume Air Flow Circuit Range/Performance",
	"P0102": "Mass or Volume Air Flow Circuit Low Input",
	"P0106": "Manifold Absolute Pressure/Barometric Pressure Circuit Range/Performance",
	"P0113": "Intake Air Temperature Sensor 1 Circuit High",
	"P0115": "Engine Coolant Temperature Circuit",
	"P0117": "Engine Coolant Temperature Circuit Low",
	"P0118": "Engine Coolant Temperature Circuit High",
	"P0121": "Throttle/Pedal Position Sensor/Switch A Circuit Range/Performance",
	"P0128": "Coolant Thermostat (Coolant Temperature Below Thermostat Regulating Temperature)",
	"P0130": "O2 Sensor Circuit (Bank 1 Sensor 1)",
	"P0131": "O2 Sensor Circuit Low Voltage (Bank 1 Sensor 1)",
	"P0133": "O2 Sensor Circuit Slow Response (Bank 1 Sensor 1)",
	"P0135": "O2 Sensor Heater Circuit (Bank 1 Sensor 1)",
	"P0141": "O2 Sensor Heater Circuit (Bank 1 Sensor 2)",
	"P0171": "System Too Lean (Bank 1)",
	"P0172": "System Too Rich (Bank 1)",
	"P0174": "System Too Lean (Bank 2)",
	"P0175": "System Too Rich (Bank 2)",
	"P0201": "Injector Circuit/Open - Cylinder 1",
	"P0217": "Engine Coolant Over Temperature Condition",
	"P0218": "Transmission Fluid Over Temperature Condition",
	"P0219": "Engine Overspeed Condition",
	"P0230": "Fuel Pump Primary Circuit",
	// Powertrain: ignition and misfire.
	"P0300": "Random/Multiple Cylinder Misfire Detected",
	"P0301": "Cylinder 1 Misfire Detected",
	"P0302": "Cylinder 2 Misfire Detected",
	"P0303": "Cylinder 3 Misfire Detected",
	"P0304": "Cylinder 4 Misfire Detected",
	"P0305": "Cylinder 5 Misfire Detected",
	"P0306": "Cylinder 6 Misfire Detected",
	"P0320": "Ignition/Distributor Engine Speed Input Circuit",
	"P0325": "Knock Sensor 1 Circuit (Bank 1 or Single Sensor)",
	"P0335": "Crankshaft Position Sensor A Circuit",
	"P0340": "Camshaft Position Sensor A Circuit (Bank 1 or Single Sensor)",
	"P0351": "Ignition Coil A Primary/Secondary Circuit",
	// Powertrain: emission controls.
	"P0400": "Exhaust Gas Recirculation Flow",
	"P0401": "Exhaust Gas Recirculation Flow Insufficient Detected",
	"P0402": "Exhaust Gas Recirculation Flow Excessive Detected",
	"P0404": "Exhaust Gas Recirculation Circuit Range/Performance",
	"P0420": "Catalyst System Efficiency Below Threshold (Bank 1)",
	"P0430": "Catalyst System Efficiency Below Threshold (Bank 2)",
	"P0440": "Evaporative Emission Control System",
	"P0442": "Evaporative Emission Control System Leak Detected (Small Leak)",
	"P0446": "Evaporative Emission Control System Vent Control Circuit",
	"P0455": "Evaporative Emission Control System Leak Detected (Large Leak)",
	"P0456": "Evaporative Emission Control System Leak Detected (Very Small Leak)",
	// Powertrain: speed, idle and auxiliary inputs.
	"P0500": "Vehicle Speed Sensor A",
	"P0505": "Idle Air Control System",
	"P0506": "Idle Air Control System RPM Lower Than Expected",
	"P0507": "Idle Air Control System RPM Higher Than Expected",
	"P0520": "Engine Oil Pressure Sensor/Switch Circuit",
	"P0521": "Engine Oil Pressure Sensor/Switch Range/Performance",
	"P0522": "Engine Oil Pressure Sensor/Switch Low Voltage",
	"P0523": "Engine Oil Pressure Sensor/Switch High Voltage",
	"P0524": "Engine Oil Pressure Too Low",
	"P0562": "System Voltage Low",
	"P0563": "System Voltage High",
	// Powertrain: computer and transmission.
	"P0600": "Serial Communication Link",
	"P0601": "Internal Control Module Memory Check Sum Error",
	"P0606": "Control Module Processor",
	"P0700": "Transmission Control System (MIL Request)",
	"P0705": "Transmission Range Sensor Circuit (PRNDL Input)",
	"P0715": "Input/Turbine Speed Sensor A Circuit",
	"P0720": "Output Speed Sensor Circuit",
	"P0741": "Torque Converter Clutch Circuit Performance or Stuck Off",
	"P0750": "Shift Solenoid A",
	"P0868": "Transmission Fluid Pressure Low",
	"P2096": "Post Catalyst Fuel Trim System Too Lean (Bank 1)",
	"P2135": "Throttle/Pedal Position Sensor/Switch A/B Voltage Correlation",
	// Chassis.
	"C0035": "Left Front Wheel Speed Sensor Circuit",
	"C0040": "Right Front Wheel Speed Sensor Circuit",
	"C0045": "Left Rear Wheel Speed Sensor Circuit",
	"C0050": "Right Rear Wheel Speed Sensor Circuit",
	// Body.
	"B0001": "Driver Frontal Stage 1 Deployment Control",
	"B0002": "Driver Frontal Stage 2 Deployment Control",
	"B0010": "Passenger Frontal Stage 1 Deployment Control",
	// Network.
	"U0001": "High Speed CAN Communication Bus",
	"U0073": "Control Module Communication Bus A Off",
	"U0100": "Lost Communication With ECM/PCM A",
	"U0101": "Lost Communication With TCM",
	"U0121": "Lost Communication With Anti-Lock Brake System (ABS) Control Module",
	"U0140": "Lost Communication With Body Control Module",
	"U0155": "Lost Communication With Instrument Panel Cluster (IPC) Control Module",
	"U0401": "Invalid Data Received From ECM/PCM A",
}
