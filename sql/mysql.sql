-- Generated from homepower/schema.py by `make sql`: edit that file, not this one.
CREATE TABLE IF NOT EXISTS `enphase_production` (
  `ts_utc` DATETIME NOT NULL,
  `year` SMALLINT NOT NULL,
  `month` TINYINT NOT NULL,
  `day` TINYINT NOT NULL,
  `hour` TINYINT NOT NULL,
  `minute` TINYINT NOT NULL,
  `wattHoursToday` DECIMAL(15,3) NULL,
  `wattHoursSevenDays` DECIMAL(15,3) NULL,
  `wattHoursLifetime` DECIMAL(15,3) NULL,
  `wattsNow` DECIMAL(12,3) NULL,
  `whExportedLifetime` DECIMAL(15,3) NULL,
  `source` VARCHAR(16) NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  `whImportedLifetime` DECIMAL(15,3) NULL,
  `whConsumedLifetime` DECIMAL(15,3) NULL,
  PRIMARY KEY (`ts_utc`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `pvhistory` (
  `ts_utc` DATETIME NOT NULL,
  `year` SMALLINT NOT NULL,
  `month` TINYINT NOT NULL,
  `day` TINYINT NOT NULL,
  `hour` TINYINT NOT NULL,
  `gr_w` DECIMAL(10,5) NULL,
  `tc` DECIMAL(10,5) NULL,
  `temp` DECIMAL(10,5) NULL,
  `kwh_pv` DECIMAL(10,5) NULL,
  `kwh_s3p` DECIMAL(10,5) NULL,
  `kwh_return` DECIMAL(10,5) NULL,
  `source` VARCHAR(16) NULL,
  `flags` VARCHAR(64) NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  `updated` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  `kwh_fc` DECIMAL(10,5) NULL,
  `kwh_import` DECIMAL(10,5) NULL,
  `kwh_consumed` DECIMAL(10,5) NULL,
  `forecast_issued` DATETIME NULL,
  `forecast_provider` VARCHAR(16) NULL,
  `kwh_fc_p10` DECIMAL(10,5) NULL,
  `kwh_fc_p90` DECIMAL(10,5) NULL,
  PRIMARY KEY (`ts_utc`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `forecast` (
  `ts_utc` DATETIME NOT NULL,
  `issued_utc` DATETIME NOT NULL,
  `provider` VARCHAR(16) NOT NULL,
  `gr_w` DOUBLE NULL,
  `tc` DOUBLE NULL,
  `temp` DOUBLE NULL,
  `gr` DOUBLE NULL,
  `sd` DOUBLE NULL,
  `lc` DOUBLE NULL,
  `mc` DOUBLE NULL,
  `hc` DOUBLE NULL,
  `vis` DOUBLE NULL,
  `prec` DOUBLE NULL,
  `elev` DOUBLE NULL,
  `az` DOUBLE NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`ts_utc`, `issued_utc`, `provider`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `calibration` (
  `fitted_utc` DATETIME NOT NULL,
  `trained_from` DATETIME NULL,
  `trained_to` DATETIME NULL,
  `hours` INT NULL,
  `params` TEXT NULL,
  `nmae_pct` DOUBLE NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`fitted_utc`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `pv_forecast` (
  `ts_utc` DATETIME NOT NULL,
  `issued_utc` DATETIME NOT NULL,
  `provider` VARCHAR(16) NOT NULL,
  `kwh` DOUBLE NULL,
  `kwh_p10` DOUBLE NULL,
  `kwh_p90` DOUBLE NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`ts_utc`, `issued_utc`, `provider`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `inverter_reading` (
  `serial` VARCHAR(20) NOT NULL,
  `report_utc` DATETIME NOT NULL,
  `watts` DOUBLE NULL,
  `max_watts` DOUBLE NULL,
  `ts_utc` DATETIME NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`serial`, `report_utc`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `inverter_energy` (
  `serial` VARCHAR(20) NOT NULL,
  `end_utc` DATETIME NOT NULL,
  `seconds` INT NULL,
  `wh` DOUBLE NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`serial`, `end_utc`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `inverter_hour` (
  `serial` VARCHAR(20) NOT NULL,
  `hour_utc` DATETIME NOT NULL,
  `wh` DOUBLE NULL,
  `max_watts` DOUBLE NULL,
  `reports` INT NULL,
  `created` TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`serial`, `hour_utc`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
