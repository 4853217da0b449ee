      *****************************************************************
      * POLMAST - POLICY MASTER RECORD (P&C ADMIN, FIXED 320 BYTES)    *
      * ENCODING CP037. RECFM=FB LRECL=320.                            *
      * DATES ARE YYYYMMDD. INSD-CORP REDEFINES INSD-PERS WHEN         *
      * INSD-TYP-CD = 'C'. COV-CNT COVERAGES ARE REAL; THE REST: ZEROS.*
      *****************************************************************
       01  POLMAST-REC.
           05  POL-NBR                 PIC X(10).
           05  POL-STAT-CD             PIC X(1).
           05  LOB-CD                  PIC X(3).
           05  CARR-CD                 PIC X(4).
           05  EFF-DT                  PIC 9(8).
           05  EXPR-DT                 PIC 9(8).
           05  ISS-DT                  PIC 9(8) COMP.
           05  INSD-TYP-CD             PIC X(1).
           05  INSD-NM                 PIC X(40).
           05  INSD-DTL.
               10  INSD-PERS.
                   15  FRST-NM         PIC X(15).
                   15  LAST-NM         PIC X(20).
                   15  BIRTH-DT        PIC 9(8).
               10  INSD-CORP REDEFINES INSD-PERS.
                   15  CORP-REG-NBR    PIC X(12).
                   15  INC-DT          PIC 9(8).
                   15  CORP-TYP-CD     PIC X(3).
                   15  FILLER          PIC X(20).
           05  INSD-ADDR.
               10  ADDR-LN1            PIC X(30).
               10  ADDR-LN2            PIC X(20).
               10  CITY-NM             PIC X(20).
               10  ST-CD               PIC X(2).
               10  ZIP-CD              PIC X(5).
               10  CNTRY-CD            PIC X(3).
           05  AGT-CD                  PIC X(6).
           05  PREM-AMT                PIC S9(7)V99 COMP-3.
           05  PREM-FREQ-CD            PIC X(1).
           05  BAL-DUE-AMT             PIC S9(7)V99.
           05  COV-CNT                 PIC S9(4) COMP.
           05  COVERAGES OCCURS 0 TO 3 TIMES DEPENDING ON COV-CNT.
               10  COV-CD              PIC X(3).
               10  COV-LMT             PIC S9(9)V99 COMP-3.
               10  COV-AGG-LMT         PIC S9(9)V99 COMP-3.
               10  COV-DED             PIC S9(7)V99 COMP-3.
           05  LST-RATE-DT             PIC 9(8).
           05  LST-UPD-TS              PIC X(14).
           05  FILLER                  PIC X(13).
